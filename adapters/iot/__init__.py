"""IoT sensor feeds over MQTT (family ``telemetry``, entry point ``iot``)."""
