"""Apps import the helpers without Pulumi: only confluent-kafka, fastavro and the pure topology model."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

CHECK = """
import sys
{block}
from k2infra.clients import DataType, get_subscription_builder, get_topic_builder, partition_for
print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kafka', 'pulumi_docker')
             or m.startswith('k2infra.components')))
"""


def run(block: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHECK.format(block=block)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_importing_the_helpers_loads_no_pulumi_module():
    done = run()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_helpers_import_where_pulumi_cannot_be_imported():
    # None in sys.modules makes any import of the name fail, as on a machine without the package.
    done = run("sys.modules.update(dict.fromkeys(['pulumi', 'pulumi_kafka', 'k2infra.components'], None))")
    assert done.returncode == 0, done.stderr
