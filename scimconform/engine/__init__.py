"""The replay engine: a case's typed steps replayed through the recording client, each answer judged.

`steps` holds the step kinds (one class each, parsed from `schemas/sequence.json` shapes when the catalogue
loads); `case_run` runs one case in one dialect; `templates`, `bodies` and `expectations` are what a step
renders, sends and checks; `outcomes` names how a case ends. Import from those modules: this package
re-exports nothing, so that the catalogue can load the step kinds without loading the engine.
"""
