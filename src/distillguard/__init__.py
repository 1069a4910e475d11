"""distillguard: find, attribute, share and stop distillation attacks in LLM API traffic."""

__version__ = "0.1.0"
