"""Assemble the report: title pages, then every figure, into one PDF, and each figure's
data as a CSV beside it. Figures are drawn from stored results only."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages

from harness import __version__
from harness.errors import UsageError
from harness.report.cli import write_csv
from harness.report.figures import FigureSpec, all_figures
from harness.report.load import Results
from harness.report.style import report_style
from harness.report.titlepage import title_page


def write_report(results: Results, out: Path, data_dir: Path | None,
                 figures: list[FigureSpec] | None = None) -> int:
    """Write the PDF (and CSVs into ``data_dir`` when given); returns the page count."""
    figures = figures if figures is not None else all_figures()
    contents = [(f.title, f.summary) for f in figures]
    hosts = ", ".join(m.hostname for m in results.machines.values())
    metadata = {"Title": f"MEM-REC vs baseline embedding lookups: {hosts}",
                "Subject": "Regenerated from stored harness results",
                "Creator": f"memrec-harness {__version__} (python -m harness report)",
                "CreationDate": None}  # no timestamp: the same results give the same file
    titles = (title_page(results, src, contents if number == 1 else None, number,
                         len(results.sources))
              for number, src in enumerate(results.sources, start=1))
    return write_pdf(out, metadata, results, figures, data_dir, leading=titles)


def write_pdf(out: Path, metadata: dict, results, figures, data_dir: Path | None,
              leading=()) -> int:
    """The pages ``leading`` (drawn lazily, in the report's style), then each figure
    drawn from ``results``, into the PDF ``out``, each figure's data as a CSV in
    ``data_dir`` when given; returns the page count. Every report (run, accuracy,
    serving) is written here, so an unwritable output is one clear error for all."""
    pages = 0
    try:
        with report_style(), PdfPages(out, metadata=metadata) as pdf:
            for page in leading:
                pdf.savefig(page)
                pages += 1
            for spec in figures:
                frame = spec.data(results)
                pdf.savefig(spec.draw(frame, results))
                pages += 1
                if data_dir is not None:
                    write_csv(frame, data_dir / f"{spec.name}.csv")
    except OSError as exc:
        raise UsageError(f"{out}: cannot write: {exc}") from None
    return pages
