"""What the exchange shows against the state: status names every disagreement."""

from __future__ import annotations

from tests.conftest import NOW


def test_status_names_every_disagreement_between_state_and_exchange():
    from bot.exchange_models import ExchangeOrder, ExchangePosition, ExchangeView
    from bot.models import Position, Side

    def position(coin, amount, stop_id):
        return Position(
            coin=coin,
            symbol=f"{coin}/USDT:USDT",
            side=Side.LONG,
            amount=amount,
            entry_price=10,
            leverage=2,
            margin_usd=5,
            opened_at=NOW,
            stop_loss=9,
            stop_order_id=stop_id,
        )

    view = ExchangeView(
        as_of=NOW,
        cash_usd=100,
        equity_usd=100,
        positions=[
            ExchangePosition(coin="BTC", side=Side.LONG, amount=1, entry_price=10),
            ExchangePosition(coin="ETH", side=Side.LONG, amount=2, entry_price=10),
            ExchangePosition(coin="SOL", side=Side.SHORT, amount=3, entry_price=10),
        ],
        open_orders=[
            ExchangeOrder(
                client_order_id="bot-1-BTC-sl", coin="BTC", side="sell", kind="stop_loss", amount=1, trigger_price=9
            )
        ],
    )
    held = {
        "BTC": position("BTC", 1, "bot-1-BTC-sl"),
        "ETH": position("ETH", 1.5, "bot-1-ETH-sl"),
        "XRP": position("XRP", 4, None),
    }
    assert view.disagreements(held) == [
        "ETH: the bot holds long 1.5, the exchange long 2",
        "ETH: no open stop-loss order on the exchange",
        "XRP: the bot holds a long 4 the exchange does not show",
        "SOL: the exchange shows a short 3 the bot does not hold",
    ]
    assert view.disagreements({"BTC": held["BTC"]}) == [
        "ETH: the exchange shows a long 2 the bot does not hold",
        "SOL: the exchange shows a short 3 the bot does not hold",
    ]
