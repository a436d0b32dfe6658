"""The API's resources: plain classes with `on_get`/`on_post`/... responders."""
