"""HTTP plumbing shared by every mount: reading a JSON body safely (body), validating it into a
pydantic model (validation), query and path parameters (params), paging (paging) and JSON:API
documents (jsonapi). Nothing here knows an audience or a business rule."""
