"""Typed application keys: what handlers may take from the app."""

from __future__ import annotations

from aiohttp import web

from app.accounts.organisations import Organisations
from app.accounts.sessions import AdminSessions
from app.clock import Clock
from app.collection.callbacks import MediPayCallbacks
from app.collection.export import MediPayExporter
from app.collection.medipay_accounts import MediPayAccounts
from app.config import Settings
from app.connect.stripe_accounts import StripeAccounts
from app.consults.service import ConsultService
from app.db import Database
from app.payments.refunds import RefundService
from app.payments.requests import PaymentService
from app.payments.stripe_events import StripeEvents
from app.services import Services
from integrations.medipay.protocol import MediPayGateway
from integrations.stripe.protocol import StripeGateway
from integrations.vipps.client import VippsClient

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
CLOCK = web.AppKey("clock", Clock)
STRIPE = web.AppKey("stripe", StripeGateway)
CONSULTS = web.AppKey("consults", ConsultService)
PAYMENTS = web.AppKey("payments", PaymentService)
REFUNDS = web.AppKey("refunds", RefundService)
STRIPE_EVENTS = web.AppKey("stripe_events", StripeEvents)
ORGANISATIONS = web.AppKey("organisations", Organisations)
STRIPE_ACCOUNTS = web.AppKey("stripe_accounts", StripeAccounts)
ADMIN_SESSIONS = web.AppKey("admin_sessions", AdminSessions)
MEDIPAY = web.AppKey("medipay", MediPayGateway)
MEDIPAY_ACCOUNTS = web.AppKey("medipay_accounts", MediPayAccounts)
MEDIPAY_EXPORTER = web.AppKey("medipay_exporter", MediPayExporter)
MEDIPAY_CALLBACKS = web.AppKey("medipay_callbacks", MediPayCallbacks)
SERVICES = web.AppKey("services", Services)
# The built-in Stripe sandbox, when this process serves it.
STRIPE_SANDBOX_APP = web.AppKey("stripe_sandbox_app", web.Application)
VIPPS = web.AppKey("vipps", VippsClient)
VIPPS_SANDBOX_APP = web.AppKey("vipps_sandbox_app", web.Application)
