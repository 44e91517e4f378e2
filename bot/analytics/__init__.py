"""Service-efficacy analytics: the district's four indicator groups (服务效率, 服务质量,
公众满意度, 资源配置与覆盖) computed from Rasa's event-broker rows joined with handoff tickets,
ratings and follow-ups. Every figure is defined in ``docs/analytics.md``.

``summary.build_summary`` is the one entry point; ``export.summary_csv`` flattens its result."""
