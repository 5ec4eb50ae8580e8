"""Outbound webhooks to the merchant's endpoints (SPEC §3.10).

``service`` holds the endpoint and delivery rules, ``dispatch`` turns the event log into
deliveries, ``deliverer`` sends them (``transport`` through the URL guard of ``urls``, headers
from ``signing``), ``envelope`` shapes the body and ``secrets`` keeps signing secrets sealed.
"""
