"""The deployment generator: what ``chalice package`` merges into each deployed stage's stack,
written under ``.chalice/`` from the code's PynamoDB models and the stages of
``.chalice/config.json``.

    python -m stack           # (re)write the files after changing a model or a stage
    python -m stack --check   # exit 1 if a committed file is out of date (a test runs this)

Not run-time code: Chalice ships ``app.py`` and ``chalicelib/`` to Lambda, never this package.

Modules, from the entry point down:

- ``files``: which file holds which document, writing them, ``--check``;
- ``documents``: each stage's CloudFormation merge template, Terraform file and Terraform
  override file, put together from the subjects below;
- ``policies``: the API handler's IAM policy and the authorizers' smaller one;
- ``tables``: the DynamoDB tables, read from the models;
- ``usage_plans``: API Gateway usage plans (``.chalice/usage-plans.json``) and the rights to put keys on them;
- ``observability``: alarms, dashboard, access log, log groups, the failed-invocations queue;
- ``lifecycle``: the EventBridge bus and the events table's stream to ``publish_events``;
- ``people``: the Cognito user pool of a stage that asks for one;
- ``functions``: the app's Lambda functions and the names Chalice gives them;
- ``config``: a stage read from ``.chalice/config.json`` (environment, settings, models, names).
"""
