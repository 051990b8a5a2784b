"""Where a stack's state lives and what guards it (no Pulumi): the Pulumi CLI's reads of a stack's state and
outputs, a team's S3 state bucket and KMS key, AWS access and its failures worded, and a file backend's stale locks.
"""
