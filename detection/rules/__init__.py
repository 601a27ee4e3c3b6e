"""Rules as data: limits in the database (RuleLimit), compiled to a RuleSet that turns a
feature vector into plain-language hits."""
