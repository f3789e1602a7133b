"""The baseline for synth time: an App with one empty stack, synthesized by the same CLI."""

import aws_cdk as cdk

app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
