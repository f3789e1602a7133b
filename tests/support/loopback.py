"""The one set of placeholder credentials every engine on loopback is given (DynamoDB Local,
moto's server, the fake DAX node, the search emulator).

Not a credential: nothing signed with it leaves 127.0.0.1, and no AWS account knows it. Only
the fake DAX node checks a signature with it (tests/support/fake_dax.py). Named once, so a scan
of the change finds one placeholder, not one per module.
"""

from __future__ import annotations

REGION = "us-east-1"
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
SESSION_TOKEN = "testing"

# As boto3.client(...) and the DAX client take them.
CLIENT_CREDENTIALS = {"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY}
# As a function's environment carries them.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    "AWS_SESSION_TOKEN": SESSION_TOKEN,
}
