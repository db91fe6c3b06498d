"""CDS Hooks services: isoguard's programme decisions as cards in the EHR's order workflow.

Discovery at `GET /cds-services`, invocation at `POST /cds-services/{id}`, feedback at
`POST /cds-services/{id}/feedback`, and the REMS IG's `$rems-etasu` idea at
`GET /rems/etasu/{patient_id}`. See docs/knowledge/interop.md section 1.
"""
