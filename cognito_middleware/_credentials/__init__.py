"""Identity-pool credentials, by concern: the cache, the refresh policy, the guest cookie,
identity resolution and the service composing them. The public names live in
:mod:`cognito_middleware._credentials.helpers`."""
