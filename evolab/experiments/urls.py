from django.urls import path

from . import api_datasets, run_settings, views, workers_page

urlpatterns = [
    path("", views.experiment_list, name="experiment-list"),
    path("new/", views.experiment_new, name="experiment-new"),
    path("compare/", views.experiment_compare, name="experiment-compare"),
    path("datasets/", api_datasets.datasets_page, name="team-datasets"),
    path("workers/", workers_page.workers_page, name="workers"),
    path("workers.json", workers_page.workers_json, name="workers-json"),
    path("<int:pk>/capacity.json", workers_page.experiment_capacity, name="experiment-capacity"),
    path("<int:pk>/costs.json", views.experiment_costs, name="experiment-costs"),
    path("<int:pk>/", views.experiment_detail, name="experiment-detail"),
    path("<int:pk>/snapshot.json", views.experiment_snapshot, name="experiment-snapshot"),
    path("<int:pk>/analytics.json", views.experiment_analytics, name="experiment-analytics"),
    path(
        "<int:pk>/individuals/<int:number>.json", views.individual_detail, name="individual-detail"
    ),
    path(
        "<int:pk>/individuals/<int:number>/lineage.json",
        views.individual_lineage,
        name="individual-lineage",
    ),
    path("<int:pk>/report/", views.experiment_report, name="experiment-report"),
    path("<int:pk>/report.html", views.experiment_report_file, name="experiment-report-file"),
    path("<int:pk>/report.pdf", views.experiment_report_pdf, name="experiment-report-pdf"),
    path(
        "<int:pk>/individuals/<int:number>/downloads.json",
        views.individual_downloads,
        name="individual-downloads",
    ),
    path("<int:pk>/downloads.json", views.experiment_downloads, name="experiment-downloads"),
    # Before the controls' <action>/: "settings" and "seed" are pages, not controls.
    path("<int:pk>/settings/", run_settings.experiment_settings, name="experiment-settings"),
    path("<int:pk>/seed/", views.experiment_seed, name="experiment-seed"),
    path("<int:pk>/<str:action>/", views.experiment_control, name="experiment-control"),
]
