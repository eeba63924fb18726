from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dashboard import inspector_views
from dashboard import room
from dashboard import views as dashboard_views
from checkout import phone
from checkout import views as checkout
from api import views as api
from payments import health, upstream_callback

urlpatterns = [
    path("", checkout.checkout, name="checkout"),
    path("pay/<uuid:reference>/", checkout.payment_page, name="payment-page"),
    path("pay/<uuid:reference>/status/", checkout.payment_status, name="payment-status"),
    re_path(r"^p/(?P<token>[A-Za-z0-9_-]{1,64})/$", phone.phone_page, name="phone-page"),
    re_path(r"^p/(?P<token>[A-Za-z0-9_-]{1,64})/status/$", phone.phone_status, name="phone-status"),
    re_path(r"^p/(?P<token>[A-Za-z0-9_-]{1,64})/approve/$", phone.phone_approve, name="phone-approve"),
    re_path(r"^p/(?P<token>[A-Za-z0-9_-]{1,64})/decline/$", phone.phone_decline, name="phone-decline"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/inspector/", inspector_views.inspector, name="dashboard-inspector"),
    path("dashboard/inspector/calls/<int:call_id>/", inspector_views.call_detail, name="dashboard-inspector-call"),
    path("dashboard/inspector/calls.json", inspector_views.export, name="dashboard-inspector-export"),
    path("dashboard/inspector/report/", inspector_views.report, name="dashboard-inspector-report"),
    path("dashboard/inspector/report.json", inspector_views.report_json, name="dashboard-inspector-report-json"),
    path("dashboard/payments/<uuid:reference>/", dashboard_views.payment_detail, name="dashboard-payment"),
    path("dashboard/payments/<uuid:reference>/force/", dashboard_views.payment_force, name="dashboard-force"),
    path("dashboard/payments/<uuid:reference>/refund/", dashboard_views.payment_refund, name="dashboard-refund"),
    path("dashboard/balances/", dashboard_views.balances_change, name="dashboard-balances"),
    path("dashboard/callbacks/settings/", dashboard_views.callback_settings_save, name="dashboard-callback-settings"),
    path("dashboard/callbacks/<int:delivery_id>/resend/", dashboard_views.callback_resend, name="dashboard-callback-resend"),
    path("dashboard/settle-all/", dashboard_views.settle_all, name="dashboard-settle-all"),
    path("dashboard/pause/", dashboard_views.pause, name="dashboard-pause"),
    path("dashboard/resume/", dashboard_views.resume, name="dashboard-resume"),
    path("dashboard/settings/", dashboard_views.settings_save, name="dashboard-settings"),
    path("dashboard/momo-clients/", dashboard_views.momo_client_create, name="dashboard-momo-create"),
    path("dashboard/scenarios/play/", room.scenario_play, name="dashboard-scenario-play"),
    path("dashboard/scenarios/stop/", room.scenario_stop, name="dashboard-scenario-stop"),
    path("dashboard/traffic/", room.traffic, name="dashboard-traffic"),
    path("dashboard/screen/phone/", room.screen_phone, name="dashboard-screen-phone"),
    path("dashboard/screen/", room.screen, name="dashboard-screen"),
    path("dashboard/reset/", dashboard_views.reset_demo, name="dashboard-reset"),
    path("dashboard/approval/", dashboard_views.approval_mode, name="dashboard-approval"),
    path("api/payments/", api.payments_collection, name="api-payments"),
    path("api/payments/<uuid:reference>/", api.payment_detail, name="api-payment"),
    path("api/payments/<uuid:reference>/complete/", api.payment_complete, name="api-payment-complete"),
    re_path(r"^api/wallets/(?P<party_id>[^/]{1,128})/$", api.wallet_detail, name="api-wallet"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ (a reference that is not a UUID, say) is a JSON 404, not a page.
    re_path(r"^api/", api.not_found),
    path("healthz", health.healthz, name="healthz"),
    path(
        "provider/momo/callback/<uuid:reference>/<str:token>/",
        upstream_callback.momo_callback,
        name="momo-upstream-callback",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # Last: MoMo's own paths at the root (momo/urls.py), as MTN serves them.
    path("", include("momo.urls")),
]
