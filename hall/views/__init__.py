"""Pages of the online hall (``/hall/``): public (login, registration, activation, password reset), the person's
pages (``me/``), the employer's (``employer/``); and the counter page for clerks (``hall_counter``, outside the
hall's prefix: it runs in the staff session)."""
