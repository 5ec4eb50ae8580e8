from __future__ import annotations

import pytest

from models.payout import PAYOUT_TRANSITIONS, PayoutStatus, transition_path

P = PayoutStatus


@pytest.mark.parametrize(
    ("current", "target", "path"),
    [
        (P.PENDING, P.IN_TRANSIT, [P.IN_TRANSIT]),
        (P.PENDING, P.PAID, [P.IN_TRANSIT, P.PAID]),
        (P.PENDING, P.FAILED, [P.FAILED]),
        (P.PENDING, P.CANCELED, [P.CANCELED]),
        (P.IN_TRANSIT, P.PAID, [P.PAID]),
        (P.IN_TRANSIT, P.FAILED, [P.FAILED]),
        (P.PAID, P.FAILED, [P.FAILED]),
    ],
)
def test_transition_path_moves_forward_through_allowed_steps(
    current: PayoutStatus, target: PayoutStatus, path: list[PayoutStatus]
) -> None:
    assert transition_path(current, target) == path


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (P.IN_TRANSIT, P.PENDING),
        (P.PAID, P.IN_TRANSIT),
        (P.PAID, P.PENDING),
        (P.IN_TRANSIT, P.CANCELED),
        (P.PAID, P.CANCELED),
        (P.FAILED, P.PAID),
        (P.FAILED, P.IN_TRANSIT),
        (P.CANCELED, P.PAID),
        (P.CANCELED, P.FAILED),
    ],
)
def test_transition_path_never_goes_backwards_or_out_of_an_end_state(
    current: PayoutStatus, target: PayoutStatus
) -> None:
    assert transition_path(current, target) is None


def test_end_states_have_no_exit() -> None:
    assert PAYOUT_TRANSITIONS[P.CANCELED] == frozenset()
    assert PAYOUT_TRANSITIONS[P.FAILED] == frozenset()
