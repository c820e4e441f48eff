"""Outbound webhooks: owners register URLs that receive a signed POST for the events they
chose (a contact created, a booking made, moved or changed, a form submitted, stock low).

    models.py     the endpoints, and one delivery per (endpoint, event) with its attempts
    events.py     which event kinds are offered, and the payload each one sends
    services.py   registering, editing, enabling and removing endpoints; the fan-out from
                  the event dispatcher (automation.engine)
    delivery.py   signing, sending (only ever from Celery), retries, disabling
    tasks.py      the delivery task and the minute sweep
    api.py, views.py, forms.py, urls.py   owners' API and settings pages

Nothing here runs in the request that caused an event: the event is dispatched after commit,
the fan-out writes delivery rows, and each one is sent by a task queued on commit (or by the
sweep when that task was lost).
"""
