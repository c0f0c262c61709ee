"""A blind backtest's frame: the world the model is shown, one it cannot recognise, and the
way back to the real one (pure, but for ``BlindStrategy``, the wrapper that applies it).

A model trained on the span it is backtested on may remember what BTC did on 2025-06-02.
Blind, it sees no coin, no date and no real price:

- each coin goes by a neutral label (``COIN1`` ...), drawn in a seeded random order, the
  same all run long;
- every price and price-denominated value (price, EMA, MACD and its signal, ATR, entry,
  mark, stop, take-profit and liquidation prices, in the features, the account and the
  trade memory) is multiplied by a per-coin factor ``10 ** ±u``, ``u`` uniform in
  [0.5, 1.5] from the same seeded RNG, so a scaled price is 3.2x to 32x away from the real
  one and no real price of a span that moves less than 3.2x can appear; amounts and
  volumes are divided by it (notional and USD figures stay true: the account is real);
- times count from the run's start (``+2d03:15``), with no calendar date and no weekday;
- RSI and funding rates are shown as given; open interest as an index, 100 at the first
  tick the run saw;
- no news or sentiment: a headline names its coin and its event (an ETF, a hack, a
  halving) and is dated by what it tells, and replacing names would not hide that; the
  Fear & Greed series is public day by day. The owner's instructions are shown with each
  coin's ticker replaced by its label (another name for a coin, "bitcoin", stays: keep
  them neutral for a blind run).

The decisions come back in the blind frame and ``real_decisions`` maps them back (labels
to coins, prices divided by the factor and rounded to the market's price step) before the
risk step, so the book, fills, fees and the report are the real ones, in the same form as
a plain backtest's.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Settings
from bot.features import CoinFeatures, Context4h
from bot.models import Decision, Portfolio, Position
from bot.ops.state import ClosedTrade
from bot.tick.precision import round_to_step
from bot.tick.prompt import DeferredPrompt, Prompt, PromptParts, build_prompt
from bot.tick.protocols import PromptView, Strategy, Trace, WrappedStrategy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the run's start, as the blind frame's datetimes hold it
LABEL = "COIN{}"
FRAME_NOTE = (
    " This is a blind test: each coin goes by a neutral label and its prices (with every price-based indicator, "
    "stop, take-profit and liquidation price) are on a scale of its own; amounts and volumes are in the label's "
    "units, OI is an index (100 at the run's start) and times count from the run's start (+days d hours:minutes). "
    "Answer in this frame: these labels and these prices."
)


@dataclass
class BlindFrame:
    """One run's mapping: coin -> label and coin -> price factor, the run's start, and the
    markets' price steps (for the way back). ``oi_base`` holds the first open interest seen
    per coin (the index's 100): filled as the run goes, the same on every re-run."""

    start: datetime
    labels: dict[str, str]
    factors: dict[str, float]
    price_steps: dict[str, float]
    oi_base: dict[str, float] = field(default_factory=dict)

    @property
    def coins(self) -> dict[str, str]:
        """label -> coin."""
        return {label: coin for coin, label in self.labels.items()}

    # -- times --------------------------------------------------------------------------------

    def time(self, at: datetime) -> datetime:
        """``at`` as the blind frame holds it: EPOCH is the run's start."""
        return EPOCH + (at - self.start)

    @staticmethod
    def stamp(at: datetime) -> str:
        """A blind datetime as the prompt shows it: days, hours and minutes since the run's start."""
        minutes = max(0, int((at - EPOCH).total_seconds() // 60))
        return f"+{minutes // 1440}d{minutes % 1440 // 60:02d}:{minutes % 60:02d}"

    # -- into the blind frame -----------------------------------------------------------------

    def features(self, features: CoinFeatures) -> CoinFeatures:
        coin, f, h4 = features.coin, features, features.h4
        k = self.factors[coin]
        scaled = {"price", "ema20", "macd"}
        series = {name: [v * k if name in scaled else v for v in values] for name, values in f.series.items()}
        oi = f.open_interest
        if oi is not None and oi > 0:
            base = self.oi_base.setdefault(coin, oi)
            oi = 100.0 * oi / base
        return CoinFeatures(
            coin=self.labels[coin],
            as_of_ms=int((self.time(datetime.fromtimestamp(f.as_of_ms / 1000, UTC)) - EPOCH).total_seconds() * 1000),
            price=f.price * k,
            series=series,
            h4=Context4h(
                ema20=h4.ema20 * k,
                ema50=h4.ema50 * k,
                atr3=h4.atr3 * k,
                atr14=h4.atr14 * k,
                volume=h4.volume / k,
                volume_avg=h4.volume_avg / k,
                macd=[v * k for v in h4.macd],
                rsi14=list(h4.rsi14),
            ),
            open_interest=oi,
            funding_rate=f.funding_rate,
            funding_interval_h=f.funding_interval_h,
            ema20=f.ema20 * k,
            ema50=f.ema50 * k,
            macd=f.macd * k,
            macd_signal=f.macd_signal * k,
            rsi7=f.rsi7,
            rsi14=f.rsi14,
            atr3=f.atr3 * k,
            atr14=f.atr14 * k,
            volume=f.volume / k,
        )

    def position(self, position: Position) -> Position:
        k = self.factors[position.coin]
        label = self.labels[position.coin]
        return position.model_copy(
            update={
                "coin": label,
                "symbol": label,
                "amount": position.amount / k,
                "entry_price": position.entry_price * k,
                "stop_loss": _times(position.stop_loss, k),
                "take_profit": _times(position.take_profit, k),
                "liquidation_price": _times(position.liquidation_price, k),
                "opened_at": self.time(position.opened_at),
                "settled_until": self.time(position.settled_until) if position.settled_until else None,
                "entry_tick_id": "",  # it names the calendar time
            }
        )

    def portfolio(self, portfolio: Portfolio) -> Portfolio:
        """The account is real (USD); the positions and prices are blind."""
        return Portfolio(
            account=portfolio.account,
            positions={self.labels[c]: self.position(p) for c, p in portfolio.positions.items() if c in self.labels},
            prices={self.labels[c]: p * self.factors[c] for c, p in portfolio.prices.items() if c in self.labels},
            initial_equity_usd=portfolio.initial_equity_usd,
            return_pct=portfolio.return_pct,
            sharpe=portfolio.sharpe,
        )

    def trade(self, trade: ClosedTrade) -> ClosedTrade:
        k = self.factors[trade.coin]
        return trade.model_copy(
            update={
                "coin": self.labels[trade.coin],
                "amount": trade.amount / k,
                "entry_price": trade.entry_price * k,
                "exit_price": trade.exit_price * k,
                "opened_at": self.time(trade.opened_at),
                "closed_at": self.time(trade.closed_at),
            }
        )

    def settings(self, settings: Settings) -> Settings:
        """What the system prompt is built from: the labels for coins, no venue, no news; the
        owner's instructions with each ticker replaced by its label."""
        instructions = settings.llm.instructions
        for coin, label in self.labels.items():
            instructions = re.sub(rf"\b{re.escape(coin)}\b", label, instructions)
        return settings.model_copy(
            update={
                "trading": settings.trading.model_copy(update={"coins": sorted(self.coins, key=_label_order)}),
                "exchange": settings.exchange.model_copy(update={"id": "the exchange"}),
                "intel": settings.intel.model_copy(update={"enabled": False}),
                "llm": settings.llm.model_copy(update={"instructions": instructions}),
            }
        )

    def prompt(self, parts: PromptParts, features: dict[str, CoinFeatures], portfolio: Portfolio) -> Prompt:
        """The tick's prompt in this frame, from ``parts`` and the features and portfolio already mapped."""
        return build_prompt(
            self.settings(parts.settings),
            features,
            portfolio,
            now=self.time(parts.now),
            tick=parts.tick,
            trades=[self.trade(trade) for trade in parts.trades if trade.coin in self.labels],
            stamp=self.stamp,
            frame_note=FRAME_NOTE,
        )

    # -- back to the real world ---------------------------------------------------------------

    def real_decisions(self, decisions: list[Decision]) -> list[Decision]:
        """Labels back to coins, prices divided by the factor and rounded to the price step; an
        entry naming no label (a real ticker guessed) is dropped: the blind run never trades it."""
        coins, real = self.coins, []
        for decision in decisions:
            coin = coins.get(decision.coin)
            if coin is None:
                continue
            k, step = self.factors[coin], self.price_steps.get(coin, 0.0)
            real.append(
                decision.model_copy(
                    update={
                        "coin": coin,
                        "stop_loss": _back(decision.stop_loss, k, step),
                        "take_profit": _back(decision.take_profit, k, step),
                    }
                )
            )
        return real

    def real_trace(self, trace: Trace | None) -> Trace | None:
        """The refused entries named by their coin (the audit keeps what was sent: the blind prompt)."""
        if trace is None or not trace.invalid:
            return trace
        coins = self.coins
        return trace.model_copy(update={"invalid": {coins.get(k, k): why for k, why in trace.invalid.items()}})


def blind_frame(coins: list[str], *, seed: int, start: datetime, price_steps: dict[str, float]) -> BlindFrame:
    """The frame of a run over ``coins`` from ``start``: the same ``seed`` draws the same labels and factors."""
    rng = random.Random(f"blind:{seed}")
    order = list(coins)
    rng.shuffle(order)
    labels = {coin: LABEL.format(index) for index, coin in enumerate(order, start=1)}
    factors = {coin: 10 ** (rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 1.5)) for coin in coins}
    return BlindFrame(start=start, labels=labels, factors=factors, price_steps=dict(price_steps))


class BlindStrategy(WrappedStrategy):
    """``inner`` asked in the blind frame: blind features, account and prompt in, real
    decisions out (before the risk step). Outside the decision cache, so the cache keys the
    blind prompt, which shares nothing with a plain one. The tick's prompt must be the
    engine's ``DeferredPrompt`` (it carries what the prompt is built from)."""

    def __init__(self, inner: Strategy, *, frame: BlindFrame) -> None:
        super().__init__(inner)
        self.frame = frame

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        parts = prompt.parts if isinstance(prompt, DeferredPrompt) else None
        if parts is None:
            raise TypeError("a blind strategy is asked with the tick's DeferredPrompt (DeferredPrompt.of)")
        frame = self.frame
        mapped = {frame.labels[coin]: frame.features(f) for coin, f in features.items() if coin in frame.labels}
        blind_features = {label: mapped[label] for label in sorted(mapped, key=_label_order)}
        blind_portfolio = frame.portfolio(portfolio)
        blind_prompt = DeferredPrompt(lambda: frame.prompt(parts, blind_features, blind_portfolio))
        try:
            decisions = await super().decide(features=blind_features, portfolio=blind_portfolio, prompt=blind_prompt)
        finally:
            self.trace = frame.real_trace(self.trace)
        # in the tick's coin order, as a plain run's rules give them: the risk step sizes entries one after another
        order = {coin: index for index, coin in enumerate(features)}
        return sorted(frame.real_decisions(decisions), key=lambda decision: order[decision.coin])


def _label_order(label: str) -> int:
    return int(label.removeprefix("COIN"))


def _times(value: float | None, k: float) -> float | None:
    return None if value is None else value * k


def _back(value: float | None, k: float, step: float) -> float | None:
    if value is None:
        return None
    real = round_to_step(value / k, step)
    return real if real > 0 else None
