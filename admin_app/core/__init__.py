"""What every domain of the web app uses, knowing none of them: the app's state
(``state``), the one error body (``errors``), request hooks and logging (``hooks``),
request parsing (``requests``), pagination, rate limits, password hashing, settings,
the authenticated caller (``caller``), times as the API shows them, the strict body
model (``schemas``) and OpenAPI helpers (``openapi``)."""
