"""The fronts, a package each (`bot.telegram` today), and the texts and documents they share
(no front's library: those load with their front)."""
