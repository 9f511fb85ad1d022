"""The counter (柜员制): registration, the home page, the employer page, 通城通办, and what keeps clerks from doing
the same work twice (one-time form tokens, attachments kept across a validation error)."""
