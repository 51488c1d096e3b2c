"""AI with hard cost controls: flags, a budget enforced by reservation, the gateway to OpenAI."""
