"""Scoring detections against simulator ground truth: metrics (``evaluate``) and an HTML report.

``evaluate(truth, detections)`` returns an ``EvaluationResult`` whose ``to_json()`` carries the DESIGN §3.4
keys at the top level; ``write_report(result, path)`` writes a self-contained HTML report.
"""

from distillguard.evaluate.metrics import DetectionsMissing, EvaluationResult, evaluate
from distillguard.evaluate.report import write_report

__all__ = ["DetectionsMissing", "EvaluationResult", "evaluate", "write_report"]
