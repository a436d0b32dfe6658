"""Keeping the task file in git: a three-way merge of task documents (`merge`, pure) and the
repository set-up that makes git use it (`setup`: `.gitattributes`, git config, `.gitignore`)."""
