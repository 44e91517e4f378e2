"""The staff console (``/console``) and the staff API (``/api/session``, ``/api/handoffs``)."""
