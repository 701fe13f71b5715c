"""The service's HTTP routes: one :class:`fastapi.APIRouter` per concern, thin over the service
objects (a route parses its input, calls one service method and maps errors to the wire)."""
