"""The robots front: WeCom, DingTalk and Feishu group robots, a front that only sends.

- `render`: a notice (title, lines, actions as words, who is responsible) as each
  platform's message, children's names masked where the robot asks it, split into
  requests within the platform's byte limits (never truncated);
- `platforms`: each platform's signing, bodies and the reading of its answers, which
  come with HTTP 200 even when they refuse;
- `client`: one HTTP client for the three, signing with the wall clock when it sends;
- `deliver`: a message's requests sent in order under the shared pace, stopping at the
  first one not taken, so the caller keeps the rest without losing or doubling any.

No aiogram here: this front shares nothing with Telegram but the core.
"""
