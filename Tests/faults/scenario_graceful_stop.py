def run(ctx):
    pass
