"""A FHIR R4 read API over the schedule: Schedule, Slot and Appointment resources.

- ``resources``: our rows as FHIR resources (pure): the status mapping, cancellation
  reasons, references, Bundles, the CapabilityStatement, OperationOutcomes;
- ``params``: FHIR search parameters (dates with prefixes, tokens, references, paging),
  parsed and checked (pure);
- ``service``: search and read for one organization (the API token's), never another's.

The HTTP side (``api/fhir.py``) only authenticates, calls ``service`` and serializes.
"""

from domain.fhir.resources import FhirError

__all__ = ["FhirError"]
