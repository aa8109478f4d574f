"""Kafka streaming: the message codec, the producer, the consumer and the embedded broker."""
