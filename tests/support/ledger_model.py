"""An independent model of one organization's balance and payouts, for the stateful ledger test:
where each payout status keeps its funds, which transfer events apply, and the reconciler's
retry budget. It knows nothing of the services' code."""

from __future__ import annotations

from dataclasses import dataclass, field

# The bucket each payout status keeps the payout's amount in.
STATUS_BUCKET = {
    "PENDING": "in_transit",
    "IN_TRANSIT": "in_transit",
    "PAID": "paid_out",
    "FAILED": "available",
    "CANCELED": "available",
}
# Statuses a transfer event may move a payout to (never backwards; FAILED and CANCELED final).
AHEAD = {
    "PENDING": {"IN_TRANSIT", "PAID", "FAILED", "CANCELED"},
    "IN_TRANSIT": {"PAID", "FAILED"},
    "PAID": {"FAILED"},
    "FAILED": set(),
    "CANCELED": set(),
}
# The ledger entry a move of funds writes: (bucket left, new status) → entry type.
ENTRY_KINDS = {
    ("in_transit", "PAID"): "PAYOUT_PAID",
    ("in_transit", "FAILED"): "PAYOUT_FAILED",
    ("in_transit", "CANCELED"): "PAYOUT_CANCELED",
    ("paid_out", "FAILED"): "PAYOUT_REVERSED",
}
EVENT_STATUS = {
    "in_transit": "IN_TRANSIT",
    "paid": "PAID",
    "failed": "FAILED",
    "canceled": "CANCELED",
}


@dataclass
class ModelPayout:
    id: str
    amount: int
    status: str = "PENDING"
    attempts: int = 1
    transfer_id: str | None = None  # as recorded by us
    sandbox_transfer_id: str | None = None  # as created at the provider
    entries: list[str] = field(default_factory=lambda: ["PAYOUT"])  # ledger entry kinds


@dataclass
class ModelEvent:
    id: str
    transfer_id: str
    status: str  # provider vocabulary
    order: int
    stored: bool = False
    applied: bool = False


@dataclass
class LedgerModel:
    max_attempts: int
    buckets: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("available", "pending", "in_transit", "paid_out"), 0)
    )
    not_due: list[int] = field(default_factory=list)  # delayed credits not yet due
    due: list[int] = field(default_factory=list)  # due, not yet released
    payouts: dict[str, ModelPayout] = field(default_factory=dict)
    events: dict[str, ModelEvent] = field(default_factory=dict)
    refusing: bool = False

    def credit(self, amount: int, delayed: bool) -> None:
        self.buckets["pending"] += amount
        if delayed:
            self.not_due.append(amount)
        else:
            self.release([amount])

    def time_passes(self) -> None:
        self.due += self.not_due
        self.not_due = []

    def release_due(self) -> None:
        self.release(self.due)
        self.due = []

    def release(self, amounts: list[int]) -> None:
        total = sum(amounts)
        self.buckets["pending"] -= total
        self.buckets["available"] += total

    def payout_created(self, payout_id: str, amount: int) -> ModelPayout:
        self.buckets["available"] -= amount
        self.buckets["in_transit"] += amount
        payout = ModelPayout(payout_id, amount)
        self.payouts[payout_id] = payout
        return payout

    def move(self, payout: ModelPayout, target: str) -> None:
        """A step ahead (or nothing): funds follow the status's bucket."""
        if target not in AHEAD[payout.status]:
            return
        source, destination = STATUS_BUCKET[payout.status], STATUS_BUCKET[target]
        if source != destination:
            self.buckets[source] -= payout.amount
            self.buckets[destination] += payout.amount
            payout.entries.append(ENTRY_KINDS[(source, target)])
        payout.status = target

    def awaiting_provider(self) -> list[ModelPayout]:
        return [p for p in self.payouts.values() if p.status == "PENDING" and not p.transfer_id]

    def with_provider_transfer(self) -> list[ModelPayout]:
        return [p for p in self.payouts.values() if p.sandbox_transfer_id]

    def provider_accepts(self, payout: ModelPayout, transfer_id: str) -> None:
        """Our side records the provider's transfer id; events kept for it apply now."""
        payout.sandbox_transfer_id = transfer_id
        payout.transfer_id = transfer_id
        waiting = [e for e in self.events.values() if e.transfer_id == transfer_id and e.stored]
        for event in sorted(waiting, key=lambda e: e.order):
            if not event.applied:
                self.move(payout, EVENT_STATUS[event.status])
                event.applied = True

    def reconcile(self, new_transfer_id: dict[str, str]) -> None:
        """One reconciler pass; ``new_transfer_id`` gives the transfer ids the provider handed
        out (read back from the provider's own tables)."""
        for payout in self.awaiting_provider():
            if payout.attempts >= self.max_attempts:
                # Out of attempts: a transfer the provider holds is adopted, never refunded.
                if payout.id in new_transfer_id:
                    self.provider_accepts(payout, new_transfer_id[payout.id])
                else:
                    self.move(payout, "FAILED")
                continue
            payout.attempts += 1
            if not self.refusing:
                self.provider_accepts(payout, new_transfer_id[payout.id])

    def deliver(self, event: ModelEvent) -> None:
        if event.stored:
            return  # a duplicate changes nothing
        event.stored = True
        payout = self.payout_of(event.transfer_id)
        if payout is not None:
            self.move(payout, EVENT_STATUS[event.status])
            event.applied = True

    def payout_of(self, transfer_id: str) -> ModelPayout | None:
        for payout in self.payouts.values():
            if payout.transfer_id == transfer_id:
                return payout
        return None
