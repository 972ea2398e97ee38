"""What falls due and when: cadences, deadlines, reminders, what is overdue, the
escalation ladder."""
