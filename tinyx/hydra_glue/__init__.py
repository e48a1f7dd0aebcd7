"""The Hydra glue: composing conf/ into a run config, Hydra callbacks, and train.py's body. The library below it takes typed configs and never imports Hydra."""
