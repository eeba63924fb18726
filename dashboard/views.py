from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from payments.models import Payment
from payments.selectors import payment_snapshot, simulator_settings, worker_status


@staff_member_required(login_url="/accounts/login/")
def dashboard(request: HttpRequest) -> HttpResponse:
    payments = [payment_snapshot(p) for p in Payment.objects.all()[:50]]
    context = {"payments": payments, "config": simulator_settings(), "worker": worker_status()}
    return render(request, "dashboard/dashboard.html", context)
