"""slopipe: SLO-driven anomaly detection for cloud services.

Data flows one way through one package per stage:

    collect -> lake -> prepare -> slo -> detect -> registry -> monitor -> alert

`cli` and `ui` are shells over those stages; nothing imports them.
"""

__version__ = "0.1.0"
