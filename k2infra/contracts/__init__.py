"""The contracts every part of K2 shares, each defined once (pure Python, no Pulumi):

- `naming`: how topics and subjects are named, the code pattern, the compatibility levels;
- `outputs`: the stack outputs the program exports and apps read;
- `settings`: a stack's settings, read from Pulumi config or from Pulumi.<stack>.yaml.
"""
