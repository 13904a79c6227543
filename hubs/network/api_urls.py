from django.urls import path

from . import api

urlpatterns = [
    path("network/news/", api.NewsListView.as_view(), name="api-news-list"),
    path("network/news/<int:pk>/", api.NewsDetailView.as_view(), name="api-news-detail"),
    path("network/subscriptions/", api.SubscriptionListView.as_view(), name="api-subscription-list"),
    path("network/subscriptions/<int:pk>/", api.SubscriptionDetailView.as_view(), name="api-subscription-detail"),
    path("network/preference/", api.PreferenceView.as_view(), name="api-news-preference"),
]
