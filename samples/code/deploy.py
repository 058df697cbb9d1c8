"""Deploy helper. Do not commit credentials (this file does, on purpose, with fake ones)."""
import os

import boto3

AWS_ACCESS_KEY_ID = "AKIAMRWXVGCM5YKNU2Y2"
aws_secret_access_key = "8/16OapVpdSgY4v1uXHSwFr+GOhZF/4WO4APcP7c"
GITHUB_TOKEN = os.environ.get("GITHUB_TOKEN", "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")


def client():
    return boto3.client(
        "s3",
        aws_access_key_id=AWS_ACCESS_KEY_ID,
        aws_secret_access_key=aws_secret_access_key,
    )


def notify(msg):
    # Slack webhook for the deploy channel
    url = "https://hooks.slack.com/services/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"
    print("posting", msg, "to", url)
