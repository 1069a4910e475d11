"""Request-level templates: near-duplicate clusters of system prompts and of masked user prompts."""

from distillguard.templates.stage import TemplateConfig, label_templates

__all__ = ["TemplateConfig", "label_templates"]
