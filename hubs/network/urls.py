from django.urls import path

from . import views

app_name = "network"

urlpatterns = [
    path("network/", views.news_list, name="news"),
    path("network/news/<int:pk>/", views.news_detail, name="news_detail"),
    path("network/subscriptions/", views.subscriptions, name="subscriptions"),
    path("network/subscriptions/<int:pk>/delete/", views.subscription_delete, name="subscription_delete"),
    path("network/subscriptions/<int:pk>/delivery/", views.subscription_delivery, name="subscription_delivery"),
    path("network/preference/", views.preference, name="preference"),
    path("staff/network/post/", views.news_post, name="post"),
    path("staff/network/hub-subscriptions/", views.hub_subscription_add, name="hub_subscription_add"),
]
