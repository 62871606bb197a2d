"""The city's SMS gateway (榕城政务短信平台): the first ``notify`` adapter."""
