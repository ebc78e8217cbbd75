"""Figures (matplotlib, headless) and the self-contained HTML run report."""
from .figures import (
    accuracy_curves,
    bar_chart,
    fig_to_base64_png,
    filters,
    grid_array,
    image_grid,
    latent_map,
    loss_curves,
    reconstructions,
    save_image_grid,
    schedule_curves,
)
from .report import write_report

__all__ = ["image_grid", "save_image_grid", "grid_array", "reconstructions", "loss_curves", "accuracy_curves",
           "schedule_curves", "bar_chart", "latent_map", "filters", "fig_to_base64_png", "write_report"]
