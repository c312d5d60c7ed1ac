"""The report: :mod:`~pipeline.report.layout` declares what it says, :mod:`~pipeline.report.render` draws
it as Markdown and HTML."""

from pipeline.report.render import Group, ReportContext, Section, label_for, render_html, render_markdown
from pipeline.tally.tables import tagged_table, top_keywords

__all__ = ["Group", "ReportContext", "Section", "label_for", "render_html", "render_markdown", "tagged_table",
           "top_keywords"]
