"""Socket.IO: the ``/consult`` namespace and the notifier that emits through it."""
