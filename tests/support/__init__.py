"""What the tests share: test sites and servers, and helpers to run the crawler against them."""
