"""The staff's client pages, under /staff/clients/ (chairtime/urls.py)."""

from django.urls import path

from chairtime.clients import views

app_name = "clients"

urlpatterns = [
    path("", views.search, name="search"),
    path("<int:client_id>/", views.card, name="card"),
    path("<int:client_id>/notes/", views.notes, name="notes"),
    path("<int:client_id>/formulas/", views.formula_add, name="formula_add"),
    path("<int:client_id>/export/", views.export, name="export"),
    path("<int:client_id>/erase/", views.erase, name="erase"),
]
