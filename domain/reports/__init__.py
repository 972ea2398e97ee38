"""What the offices read: the weekly roster, the monthly care record, the overview."""
