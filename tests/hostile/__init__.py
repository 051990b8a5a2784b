"""Hostile and careless input (issue 20): a catalogue of crafted projects, each run through the real `k2` command in
a subprocess under a memory and a time limit, and a fuzz test of the model on mutations of the shipped topics.yaml.
Nothing here needs a broker: it runs with the unit tests (`-m "not e2e"`)."""
